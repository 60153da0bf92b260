/*
 * A do-nothing libgupnp-igd-1.0.so.4 for Debian 12's simple-whip-client.
 *
 * whip-client links libsoup-2.4; libnice (through webrtcbin) links libgupnp-igd, which links
 * gupnp-1.6 and so libsoup-3.0. libsoup 3 aborts a process that already holds libsoup 2
 * ("libsoup2 symbols detected"). libnice needs gupnp-igd only for UPnP port mapping and
 * carries on without it when gupnp_simple_igd_thread_new() returns NULL.
 */
#include <stddef.h>

void *gupnp_simple_igd_thread_new(void) { return NULL; }
unsigned long gupnp_simple_igd_get_type(void) { return 0; }
void gupnp_simple_igd_add_port(void) {}
void gupnp_simple_igd_remove_port_local(void) {}
