"""Job 1: annual confirmation (优抚对象年度确认)."""
