"""Job 2: preferential cards (优待证): applications, review chain, issuance, pickup booking, statistics."""
