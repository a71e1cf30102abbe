{
  "targets": [
    {
      "target_name": "linnet_native",
      "sources": ["src/linnet_native.c", "src/splice_relay.c"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-O2"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/linnet_native.c", "src/splice_relay.c"], "sources": ["src/unsupported.c"] }]
      ]
    }
  ]
}
