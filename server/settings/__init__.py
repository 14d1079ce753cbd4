"""Settings: `base` holds every choice; `test` only overrides what tests must."""
