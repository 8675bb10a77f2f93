/* guest/cuda/export_tools_tls.c - TOOLS_TLS.
 *
 * GUID 42d85a81-23f6-cb47-8298-f6e78a3aecdc, 3 slots (0x18): the runtime
 * is only known to read its size; both entries are logged stubs.
 */
#include "export_table.h"

#define TLS "TOOLS_TLS"

VGPU_EXPORT_STUB(tls, TLS, 1)
VGPU_EXPORT_STUB(tls, TLS, 2)

static const vgpu_slot tls_slots[3] = {
	VGPU_SLOT_SIZE(3),
	VGPU_SLOT(tls_stub_1),
	VGPU_SLOT(tls_stub_2),
};

const struct vgpu_export_table vgpu_export_tools_tls = {
	TLS,
	{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7,
	 0x8a, 0x3a, 0xec, 0xdc},
	tls_slots, 3,
};
