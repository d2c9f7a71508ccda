"""Import every job kind so that it registers in workers.kinds."""

import workers.campaign  # noqa: F401
