/* The kernel relay (splice_relay.c), registered by the module's init in linnet_native.c. */
#ifndef LINNET_SPLICE_RELAY_H
#define LINNET_SPLICE_RELAY_H

#include <node_api.h>

/* Adds spliceInit, spliceStart, spliceAbort and spliceShutdown to `exports`. */
napi_status linnet_splice_register(napi_env env, napi_value exports);

/* 0 when splice(2) from a socket into a pipe is available, else the errno of the probe. */
int linnet_splice_probe(void);

#endif
