/* Non-Linux builds: SO_ORIGINAL_DST and Linux SO_REUSEPORT balancing do not exist there. The
 * module loads (so `npm install` succeeds on a developer's laptop) and says so; index.ts turns
 * `unsupported` into a PlatformError. */
#define NAPI_VERSION 8
#include <node_api.h>

NAPI_MODULE_INIT() {
  napi_value yes;
  if (napi_get_boolean(env, true, &yes) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "unsupported", yes);
  return exports;
}
