/* ring/errors.c - names and sentences for VGPU_E_* codes. */
#include "errors.h"

struct errdesc {
	int code;
	const char *name;
	const char *text;
};

static const struct errdesc errs[] = {
	{VGPU_OK, "VGPU_OK", "success"},
	{VGPU_E_INVAL, "VGPU_E_INVAL", "invalid argument"},
	{VGPU_E_MAGIC, "VGPU_E_MAGIC",
	 "the shared region has no vgpu header: is vgpud serving this VM "
	 "(check 'vgpuctl status' on the host and the VM's region path)?"},
	{VGPU_E_ABI, "VGPU_E_ABI",
	 "guest library and vgpud speak no common ABI version: install the "
	 "guest package that matches the host's vgpud"},
	{VGPU_E_SMALL, "VGPU_E_SMALL",
	 "the mapped region is smaller than vgpud laid it out: the VM's ivshmem "
	 "size must equal the 'region_size' in the VM's vgpud config"},
	{VGPU_E_GEOM, "VGPU_E_GEOM",
	 "the region header has an impossible geometry (corrupt region)"},
	{VGPU_E_NOTREADY, "VGPU_E_NOTREADY",
	 "vgpud is not serving this region (not started, or stopped): start it "
	 "on the host with 'systemctl start vgpud'"},
	{VGPU_E_NOCHAN, "VGPU_E_NOCHAN",
	 "all channels of this VM are in use: raise 'channels' in the VM's "
	 "vgpud config or end idle GPU processes"},
	{VGPU_E_TIMEOUT, "VGPU_E_TIMEOUT", "vgpud did not answer in time"},
	{VGPU_E_DAEMON, "VGPU_E_DAEMON",
	 "vgpud stopped answering (its heartbeat stalled): check 'systemctl "
	 "status vgpud' on the host"},
	{VGPU_E_LOST, "VGPU_E_LOST",
	 "this process's channel was reclaimed or reset by vgpud"},
	{VGPU_E_FORKED, "VGPU_E_FORKED",
	 "this channel belongs to the parent process; a forked child must "
	 "initialise its own"},
	{VGPU_E_OPCODE, "VGPU_E_OPCODE", "opcode outside the protocol range"},
	{VGPU_E_LEN, "VGPU_E_LEN", "payload longer than a ring slot"},
	{VGPU_E_ARENA, "VGPU_E_ARENA",
	 "arena range outside the channel's slice"},
	{VGPU_E_FLAGS, "VGPU_E_FLAGS", "unknown message flags"},
	{VGPU_E_INDEX, "VGPU_E_INDEX",
	 "ring slot sequence jumped (corrupt channel)"},
	{VGPU_E_GEN, "VGPU_E_GEN", "message from a stale channel generation"},
	{VGPU_E_POS, "VGPU_E_POS", "message names the wrong ring position"},
	{VGPU_E_NODEV, "VGPU_E_NODEV",
	 "no vgpu device: no ivshmem PCI device 1af4:1110 in "
	 "/sys/bus/pci/devices and VGPU_REGION is unset; add the ivshmem device "
	 "to the VM (see packaging/qemu) or set VGPU_REGION=/path/to/region"},
	{VGPU_E_PERM, "VGPU_E_PERM",
	 "permission denied opening the vgpu region: add this user to group "
	 "'vgpu' (the guest package's udev rule grants it the device), or in a "
	 "container bind-mount the device's resource2_wc file"},
	{VGPU_E_IO, "VGPU_E_IO", "could not open or map the vgpu region"},
	{VGPU_E_REFUSED, "VGPU_E_REFUSED",
	 "vgpud refused this process (VM's process limit or quota reached)"},
	{VGPU_E_TRUNC, "VGPU_E_TRUNC", "response larger than the buffer"},
	{VGPU_E_REMOTE, "VGPU_E_REMOTE", "the server returned an error"},
	{VGPU_E_REPLY, "VGPU_E_REPLY", "reply entry index out of range"},
};

static const struct errdesc *find(int err)
{
	for (unsigned i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].code == err)
			return &errs[i];
	return 0;
}

const char *vgpu_strerror(int err)
{
	const struct errdesc *d = find(err);
	return d ? d->text : "unknown vgpu error";
}

const char *vgpu_errname(int err)
{
	const struct errdesc *d = find(err);
	return d ? d->name : "VGPU_E_?";
}
