# Reads `go test -bench` output from several rounds and prints, for each
# benchmark, the median of every metric, then the ratios the goals use.

/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	if (!(name in seen)) { seen[name] = 1; order[++n] = name }
	for (i = 3; i < NF; i += 2) {
		key = name SUBSEP $(i + 1)
		vals[key] = vals[key] " " $i
		units[$(i + 1)] = 1
	}
}

function median(list,    a, m, i, j, t) {
	m = split(list, a, " ")
	for (i = 2; i <= m; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	if (m == 0) return ""
	return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}

function med(name, unit) { return median(vals[name SUBSEP unit]) }

function ratio(label, num, den, goal,    a, b) {
	a = med(num, "ns/op"); b = med(den, "ns/op")
	if (a == "" || b == "") return
	printf "%-58s %6.2fx   (goal %s)\n", label, a / b, goal
}

END {
	printf "%-52s %14s %10s %10s %s\n", "benchmark (median)", "ns/op", "B/op", "allocs/op", "other"
	for (k = 1; k <= n; k++) {
		name = order[k]; other = ""
		for (u in units)
			if (u != "ns/op" && u != "B/op" && u != "allocs/op" && med(name, u) != "")
				other = other sprintf("%s %s ", med(name, u), u)
		printf "%-52s %14s %10s %10s %s\n", name, med(name, "ns/op"), med(name, "B/op"),
			med(name, "allocs/op"), other
	}
	print ""
	print "ratios, each measured side by side in the same rounds:"
	ratio("signed-request middleware / bare ParseWithClaims", "BenchmarkMiddleware",
		"BenchmarkBareParseWithClaims", "<= 1.15x")
	ratio("SendNotification (cached token) / plain net/http POST", "BenchmarkNotify/addon",
		"BenchmarkNotify/plain-post", "<= 1.1x")
	ratio("file store Add, 100,000 stored / 10 stored", "BenchmarkFileStoreAdd/installs=100000",
		"BenchmarkFileStoreAdd/installs=10", "<= 1.5x")
	ratio("file store Add / bbolt Put, 10 stored", "BenchmarkFileStoreAdd/installs=10",
		"BenchmarkBoltPut/installs=10", "<= 1.5x")
	ratio("file store Add / bbolt Put, 10,000 stored", "BenchmarkFileStoreAdd/installs=10000",
		"BenchmarkBoltPut/installs=10000", "<= 1.5x")
	for (k = 1; k <= n; k++)
		if (order[k] ~ /RejectHugeToken/)
			printf "%-58s %8s ns  %s allocs   (goal < 2000 ns, allocs not growing)\n",
				"rejection " substr(order[k], 26), med(order[k], "ns/op"), med(order[k], "allocs/op")
}
