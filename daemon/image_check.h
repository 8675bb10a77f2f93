/* daemon/image_check.h - does a module image stay inside its bytes?
 *
 * Contract: cuModuleLoadData takes no length: the driver believes the
 * sizes an image states about itself. A guest's image is hostile input, so
 * before a worker hands one to the driver, vgpu_image_fits() checks that
 * every size and offset it states (ELF headers and sections; fatbin header
 * and each entry, and an ELF inside an entry) lies within the len bytes
 * received. PTX is text: the caller NUL-terminates it. */
#ifndef VGPU_DAEMON_IMAGE_CHECK_H
#define VGPU_DAEMON_IMAGE_CHECK_H

#include <stdbool.h>
#include <stdint.h>

bool vgpu_image_fits(const uint8_t *img, uint64_t len);

#endif
