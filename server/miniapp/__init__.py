"""The mini-program side: WeChat login, binding to a beneficiary, family proxies."""
