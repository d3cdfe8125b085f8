//go:build race

package natsstore_test

// raceEnabled: the race detector slows the cluster tests about tenfold;
// they run fewer events under it.
const raceEnabled = true
