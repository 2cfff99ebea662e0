"""The four tiers: the planner and lead (Tier 1 and 2), the worker lifecycle (Tier 3) and the
QA translator (Tier 4), with their prompts. Nothing is imported here, so importing one agent
does not load the others."""
