from .books import balances, first_seen_accounts, merge_journals, running_total

__all__ = ["balances", "first_seen_accounts", "merge_journals", "running_total"]
