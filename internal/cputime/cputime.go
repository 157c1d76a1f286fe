// Package cputime tells the CPU time (user and system) the process has used
// so far, on unix (getrusage) and on Windows (GetProcessTimes): the bench
// command and the transform's benchmarks report throughput per CPU-second,
// which moves far less than wall-clock time on a shared machine.
package cputime
