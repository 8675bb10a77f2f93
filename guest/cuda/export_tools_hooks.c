/* guest/cuda/export_tools_hooks.c - TOOLS_RUNTIME_CALLBACK_HOOKS.
 *
 * GUID a094798c-2e74-2e74-93f2-0800200c0a66, 7 slots (0x38): entries 2 and
 * 6 are (void **buf, size_t *len) -> void and hand the runtime a zeroed
 * buffer of 1024 and of 14 32-bit words (public notes: ZLUDA dark_api).
 * The runtime keeps its profiler-callback state there; zero means no tool
 * is attached, which is true here: vgpu offers no CUPTI.
 */
#include "export_table.h"

#define HOOKS "TOOLS_RUNTIME_CALLBACK_HOOKS"

static uint32_t hooks_buffer1[1024];
static uint32_t hooks_buffer2[14];

static void hooks_buffer_1(void **buf, size_t *len)
{
	*buf = hooks_buffer1;
	*len = sizeof(hooks_buffer1) / sizeof(hooks_buffer1[0]);
}

static void hooks_buffer_2(void **buf, size_t *len)
{
	*buf = hooks_buffer2;
	*len = sizeof(hooks_buffer2) / sizeof(hooks_buffer2[0]);
}

VGPU_EXPORT_STUB(hooks, HOOKS, 1)
VGPU_EXPORT_STUB(hooks, HOOKS, 3)
VGPU_EXPORT_STUB(hooks, HOOKS, 4)
VGPU_EXPORT_STUB(hooks, HOOKS, 5)

static const vgpu_slot hooks_slots[7] = {
	VGPU_SLOT_SIZE(7),
	VGPU_SLOT(hooks_stub_1),
	VGPU_SLOT(hooks_buffer_1),
	VGPU_SLOT(hooks_stub_3),
	VGPU_SLOT(hooks_stub_4),
	VGPU_SLOT(hooks_stub_5),
	VGPU_SLOT(hooks_buffer_2),
};

const struct vgpu_export_table vgpu_export_tools_hooks = {
	HOOKS,
	{0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00,
	 0x20, 0x0c, 0x0a, 0x66},
	hooks_slots, 7,
};
