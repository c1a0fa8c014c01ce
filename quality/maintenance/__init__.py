"""Planned maintenance (保养计划): plans per device or per kind, work orders opened ahead of
each due date as tickets of fault type `maintenance`, findings suppressed while a device is
being maintained, and the maintenance-plan execution rate (保养计划执行率)."""
