// bench/fairness.cu - the kernel bench/fairness loops: it spins until it
// has itself run `ns` nanoseconds of %globaltimer and stamps what it saw.
//
// Contexts time-slice the GPU, so a kernel can be switched out mid-way:
// the wall time between its start and end then includes other contexts'
// turns. The kernel counts only steps of the timer shorter than GAP_NS
// as its own running time, so `ran` is GPU time it really had (what the
// shares are computed from, independently of vgpud's own accounting),
// and each launch is the same amount of GPU work whoever else runs.
#define GAP_NS 20000ull

extern "C" __global__ void fair_spin(unsigned long long ns,
				     unsigned long long *out)
{
	unsigned long long t0, prev, now, ran = 0;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
	prev = t0;
	while (ran < ns) {
		asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
		unsigned long long d = now - prev;
		if (d < GAP_NS)
			ran += d;
		prev = now;
	}
	out[0] = t0;
	out[1] = prev;
	out[2] = ran;
}
