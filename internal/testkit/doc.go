// Package testkit holds the helpers the project's tests share: a manual
// clock that also drives timers, polling with a deadline instead of
// sleeping, and a real bbolt store in a temporary directory. It is imported
// only by tests.
package testkit
