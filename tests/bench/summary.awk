# Summarises the BOOT, BLK, NET, SNAP and MIG lines of a benchmark run (see run.sh).
function sort(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
}
function median(a, n) {
	sort(a, n)
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	delete f
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
}
$1 == "BOOT" {
	boot = 1
	if (f["status"] != 0 || f["ms"] < 0) { badboot++; next }
	if (f["vmm"] == "vireo") { v[++nv] = f["ms"]; over[++no] = f["rss_kb"] - f["shmem_kb"]; anon[no] = f["anon_kb"]; file[no] = f["file_kb"] }
	if (f["vmm"] == "qemu") q[++nq] = f["ms"]
	if (f["vmm"] == "vireo-cold") cold = f["ms"]
}
$1 == "BLK" {
	k = f["vmm"] SUBSEP f["job"]
	n[k]++; iops[k, n[k]] = f["iops"]; kbs[k, n[k]] = f["kbs"]
	jobs[f["job"]] = 1
}
$1 == "NET" {
	k = f["vmm"] SUBSEP f["job"]
	nn[k]++; mbit[k, nn[k]] = f["mbit"]
	njobs[f["job"]] = 1
	nvmm[f["vmm"]] = 1
	netgb[f["vmm"]] += f["mbit"] * (net_rt ? net_rt : 10) / 8 / 1000
}
$1 == "BENCH-CPU" {
	split(f["total"], t, "/")
	cpu_ticks[f["vmm"]] += t[1] - t[2]	# the VMM's own, not the guest's
	cpu_runs[f["vmm"]]++
	# per thread name: cpu/guest/system ticks; the VMM's part is
	# cpu - guest, of which system is the kernel's
	for (tn in f) if (tn != "vmm" && tn != "total") {
		split(f[tn], t, "/")
		thr[f["vmm"], tn] += t[1] - t[2]
		thrsys[f["vmm"], tn] += t[3]
		thrname[tn] = 1
	}
}
$1 == "MIX" {
	k = f["vmm"] SUBSEP f["job"]
	nx[k]++; xval[k, nx[k]] = f["job"] ~ /net-tx/ ? f["mbit"] : f["job"] ~ /guest/ ? f["pct"] : f["iops"]
	xjobs[f["job"]] = 1
	xvmm[f["vmm"]] = 1
}
$1 == "BLK" { bvmm[f["vmm"]] = 1 }
$1 == "SNAP" {
	k = f["vmm"] SUBSEP f["step"]
	if (f["status"] != 0 || f["ms"] < 0) { snapbad[k]++; next }
	ns[k]++; sms[k, ns[k]] = f["ms"]; ssz[k, ns[k]] = f["size_kb"]
	srss[k, ns[k]] = f["rss_kb"]
}
$1 == "MIG" {
	k = f["vmm"] SUBSEP f["load"]
	nm[k]++; mtot[k, nm[k]] = f["total_ms"]; mdown[k, nm[k]] = f["downtime_ms"]
	mgap[k, nm[k]] = ("gap_ms" in f) ? f["gap_ms"] : -1
}
function mig_median(k, what,   a, i) {
	split("", a)
	for (i = 1; i <= nm[k]; i++) a[i] = what == "down" ? mdown[k, i] : what == "gap" ? mgap[k, i] : mtot[k, i]
	return nm[k] ? median(a, nm[k]) : -1
}
function mig_summary(   l, v, q, li, vi, vs) {
	split("vireo-tcp vireo-local", vs, " ")
	for (li = 0; li < 2; li++) {
		l = li ? "busy" : "idle"
		q = "qemu-tcp" SUBSEP l
		if (!nm[q]) { printf "mig %s: no QEMU runs\n", l; bad = 1 }
		for (vi = 1; vi <= 2; vi++) {
			v = vs[vi] SUBSEP l
			if (!nm[v]) { printf "mig %s %s: no runs\n", l, vs[vi]; bad = 1; continue }
			printf "mig %-4s medians (runs %d/%d): %s total %.0f ms, downtime %.0f ms, tick gap %.0f ms; qemu-tcp total %.0f ms, downtime %.0f ms, tick gap %.0f ms; %s/qemu downtime %.2f, tick gap %.2f\n", l, nm[v], nm[q], vs[vi], mig_median(v, "tot"), mig_median(v, "down"), mig_median(v, "gap"), mig_median(q, "tot"), mig_median(q, "down"), mig_median(q, "gap"), vs[vi], (mig_median(q, "down") > 0 ? mig_median(v, "down") / mig_median(q, "down") : 0), (mig_median(q, "gap") > 0 ? mig_median(v, "gap") / mig_median(q, "gap") : 0)
		}
	}
}
function snap_median(vmm, step, what,   k, a, i) {
	k = vmm SUBSEP step
	split("", a)
	for (i = 1; i <= ns[k]; i++)
		a[i] = what == "ms" ? sms[k, i] : what == "size" ? ssz[k, i] : srss[k, i]
	return ns[k] ? median(a, ns[k]) : -1
}
function snap_summary(   st, v, q, m) {
	for (m = 0; m < 2; m++) {
		st = m ? "restore" : "create"
		if (!ns["vireo" SUBSEP st] || !ns["qemu" SUBSEP st]) {
			printf "snap %s: missing runs (vireo %d, qemu %d)\n", st, ns["vireo" SUBSEP st], ns["qemu" SUBSEP st]
			bad = 1
			continue
		}
		v = snap_median("vireo", st, "ms"); q = snap_median("qemu", st, "ms")
		printf "snap %-7s medians (runs %d/%d): vireo %.0f ms, qemu %.0f ms, ratio vireo/qemu %.2f\n", st, ns["vireo" SUBSEP st], ns["qemu" SUBSEP st], v, q, q ? v / q : 0
	}
	printf "snap size on disk, median: vireo %.0f KiB, qemu %.0f KiB\n", snap_median("vireo", "create", "size"), snap_median("qemu", "create", "size")
	printf "snap resident memory at the restored guest's first output, median: vireo %.0f KiB, qemu %.0f KiB\n", snap_median("vireo", "restore", "rss"), snap_median("qemu", "restore", "rss")
	for (k in snapbad) { split(k, kk, SUBSEP); printf "snap failed runs: %s %s %d\n", kk[1], kk[2], snapbad[k] }
}
function boot_summary() {
	if (nv == 0 || nq == 0) { print "boot: no successful runs"; bad = 1; return }
	mv = median(v, nv); mq = median(q, nq)
	printf "boot to init marker, median of %d: vireo %.0f ms, qemu microvm %.0f ms, ratio vireo/qemu %.2f\n", nv, mv, mq, mv / mq
	printf "vireo first boot (kernel extracted, not cached): %.0f ms\n", cold
	printf "vireo memory beyond guest RAM at the marker, median: %.0f KiB (RssAnon %.0f + RssFile %.0f)\n", median(over, no), median(anon, no), median(file, no)
	if (badboot) printf "failed boot runs: %d\n", badboot
}
function blk_summary(   j, m, vmm, k, i, a, c, b) {
	for (j in jobs) {
		for (m = 0; m < 2; m++) {
			vmm = m ? "qemu" : "vireo"; k = vmm SUBSEP j
			split("", a); split("", c)
			for (i = 1; i <= n[k]; i++) { a[i] = iops[k, i]; c[i] = kbs[k, i] }
			mi[vmm] = n[k] ? median(a, n[k]) : 0
			mk[vmm] = n[k] ? median(c, n[k]) : 0
			cnt[vmm] = n[k] + 0
		}
		if (!cnt["vireo"] || !cnt["qemu"] || !mi["qemu"]) {
			printf "blk %s: missing runs (vireo %d, qemu %d)\n", j, cnt["vireo"], cnt["qemu"]
			bad = 1
			continue
		}
		printf "blk %-12s medians (runs %d/%d): vireo %.0f IOPS %.1f MB/s, qemu %.0f IOPS %.1f MB/s, ratio vireo/qemu %.2f\n", j, cnt["vireo"], cnt["qemu"], mi["vireo"], mk["vireo"] / 1024, mi["qemu"], mk["qemu"] / 1024, mi["vireo"] / mi["qemu"]
		k = "vireo-base" SUBSEP j
		if (n[k]) {
			split("", a)
			for (i = 1; i <= n[k]; i++) a[i] = iops[k, i]
			b = median(a, n[k])
			printf "blk %-12s baseline (runs %d): vireo-base %.0f IOPS, ratio vireo/vireo-base %.2f\n", j, n[k], b, mi["vireo"] / b
		}
		# vhost-user: both VMMs on the same daemon, and vireo in-process.
		if (n["vireo-vu" SUBSEP j] && n["qemu-vu" SUBSEP j]) {
			vu = blk_median("vireo-vu", j); qu = blk_median("qemu-vu", j)
			printf "blk %-12s vhost-user (runs %d/%d): vireo-vu %.0f IOPS, qemu-vu %.0f IOPS, ratio vireo-vu/qemu-vu %.2f, vireo-vu/vireo %.2f\n", j, n["vireo-vu" SUBSEP j], n["qemu-vu" SUBSEP j], vu, qu, qu ? vu / qu : 0, mi["vireo"] ? vu / mi["vireo"] : 0
		}
		# vhost-vdpa: the same daemon's VDUSE disk, against its vhost-user.
		if (n["vireo-vdpa" SUBSEP j] && n["vireo-vu" SUBSEP j]) {
			vd = blk_median("vireo-vdpa", j); vu = blk_median("vireo-vu", j)
			printf "blk %-12s vhost-vdpa (runs %d): vireo-vdpa %.0f IOPS, ratio vireo-vdpa/vireo-vu %.2f, vireo-vdpa/vireo %.2f; VMM CPU ticks vireo-vdpa %d, vireo-vu %d\n", j, n["vireo-vdpa" SUBSEP j], vd, vu ? vd / vu : 0, mi["vireo"] ? vd / mi["vireo"] : 0, cpu_ticks["vireo-vdpa"], cpu_ticks["vireo-vu"]
		}
	}
}
function blk_median(vmm, j,   k, a, i) {
	k = vmm SUBSEP j
	split("", a)
	for (i = 1; i <= n[k]; i++) a[i] = iops[k, i]
	return n[k] ? median(a, n[k]) : 0
}
function net_median(vmm, j,   k, a, i) {
	k = vmm SUBSEP j
	split("", a)
	for (i = 1; i <= nn[k]; i++) a[i] = mbit[k, i]
	return nn[k] ? median(a, nn[k]) : 0
}
function net_vhost_summary(   j, v, q, w) {
	if (!("vireo-vhost" in nvmm) || !("qemu-vhost" in nvmm))
		return
	for (j in njobs) {
		v = net_median("vireo-vhost", j); q = net_median("qemu-vhost", j)
		w = net_median("vireo", j)
		printf "net %-5s vhost-net medians: vireo-vhost %.2f Gbit/s, qemu-vhost %.2f Gbit/s, ratio %.2f; vireo in-process %.2f Gbit/s\n", j, v / 1000, q / 1000, q ? v / q : 0, w / 1000
	}
	for (w in nvmm)
		if (netgb[w] > 0 && (w in cpu_ticks))
			printf "net CPU of the VMM process (not the guest) per GB moved: %s %.2f s\n", w, cpu_ticks[w] / 100 / netgb[w]
}
function net_summary(   j, m, vmm, k, i, a, med, cnt, b) {
	for (j in njobs) {
		for (m = 0; m < 2; m++) {
			vmm = m ? "qemu" : "vireo"; k = vmm SUBSEP j
			split("", a)
			for (i = 1; i <= nn[k]; i++) a[i] = mbit[k, i]
			med[vmm] = nn[k] ? median(a, nn[k]) : 0
			cnt[vmm] = nn[k] + 0
		}
		if (!cnt["vireo"] || !cnt["qemu"] || !med["qemu"]) {
			printf "net %s: missing runs (vireo %d, qemu %d)\n", j, cnt["vireo"], cnt["qemu"]
			bad = 1
			continue
		}
		printf "net %-5s medians (runs %d/%d): vireo %.2f Gbit/s, qemu %.2f Gbit/s, ratio vireo/qemu %.2f\n", j, cnt["vireo"], cnt["qemu"], med["vireo"] / 1000, med["qemu"] / 1000, med["vireo"] / med["qemu"]
		k = "vireo-base" SUBSEP j
		if (nn[k]) {
			split("", a)
			for (i = 1; i <= nn[k]; i++) a[i] = mbit[k, i]
			b = median(a, nn[k])
			printf "net %-5s baseline (runs %d): vireo-base %.2f Gbit/s, ratio vireo/vireo-base %.2f\n", j, nn[k], b / 1000, med["vireo"] / b
		}
	}
}
function mix_median(vmm, j,   k, a, i) {
	k = vmm SUBSEP j
	split("", a)
	for (i = 1; i <= nx[k]; i++) a[i] = xval[k, i]
	return nx[k] ? median(a, nx[k]) : 0
}
function mix_summary(   j, v, q, u, vs, vi, name, line, n, head, rat) {
	if (length(xjobs) == 0) { print "mix: no successful runs"; bad = 1; return }
	# In name order: vireo (a prefix of the others) first, then its
	# variants (vireo-base, vireo-iot, ...).
	n = 0
	for (name in xvmm) if (name != "qemu") vs[++n] = name
	sort(vs, n)
	for (j in xjobs) {
		u = j ~ /irqs/ ? "interrupts/s" : j ~ /net/ ? "Mbit/s" : j ~ /guest/ ? "% of the guest's CPU time" : "IOPS"
		q = mix_median("qemu", j)
		if (!nx["qemu" SUBSEP j]) { printf "mix %s: no QEMU runs\n", j; bad = 1; continue }
		head = ""; line = ""; rat = ""
		for (vi = 1; vi <= n; vi++) {
			v = mix_median(vs[vi], j)
			head = head sprintf("%s%d", vi > 1 ? "/" : "", nx[vs[vi] SUBSEP j])
			line = line sprintf("%s %.0f, ", vs[vi], v)
			rat = rat sprintf("%s %s/qemu %s", vi > 1 ? "," : "", vs[vi], q ? sprintf("%.2f", v / q) : "-")
		}
		printf "mix %-15s medians (runs %s/%d): %sqemu %.0f %s; ratio%s\n", j, head, nx["qemu" SUBSEP j], line, q, u, rat
	}
	# The VMM's own CPU (not its guest's) per thread, summed over runs
	# (also of a VMM whose runs all failed).
	vs[++n] = "qemu"
	for (name in cpu_runs) if (!(name in xvmm) && name != "qemu") vs[++n] = name
	for (vi = 1; vi <= n; vi++) {
		if (!cpu_runs[vs[vi]]) continue
		line = ""
		for (name in thrname)
			if ((vs[vi] SUBSEP name) in thr && thr[vs[vi], name] > 0)
				line = line sprintf(" %s %.1f (kernel %.1f)", name, thr[vs[vi], name] / 100 / cpu_runs[vs[vi]], thrsys[vs[vi], name] / 100 / cpu_runs[vs[vi]])
		printf "mix CPU s per run, VMM's own (not the guest's), by thread: %s total %.1f;%s\n", vs[vi], cpu_ticks[vs[vi]] / 100 / cpu_runs[vs[vi]], line
	}
}
END {
	if (want == "mix") mix_summary()
	if (want == "boot" || want == "all") boot_summary()
	if (want == "blk" || want == "all") {
		if (length(jobs) == 0) { print "blk: no successful runs"; bad = 1 }
		else blk_summary()
	}
	if (want == "net" || want == "all") {
		if (length(njobs) == 0) { print "net: no successful runs"; bad = 1 }
		else { net_summary(); net_vhost_summary() }
	}
	if (want == "snap" || want == "all") snap_summary()
	if (want == "mig" || want == "all") mig_summary()
	exit bad
}
