"""Findings by people (巡检): tickets opened by hand with photos, inspection routes with
their checklists, and the rounds that walk them."""
