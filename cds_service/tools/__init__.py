"""Tools for testers and pathway owners around the hook call: the sandbox page and `cds-service evaluate`
build CDS Hooks requests (`hook_input`) and run them through the hooks' own code path (`run`)."""
