package clone

// SyncLocks counts the per-project sync locks a Service holds in memory.
func SyncLocks(s *Service) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.syncMu)
}
