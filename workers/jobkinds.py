"""Import every job kind so that it registers in workers.kinds."""

import workers.campaign  # noqa: F401
import workers.ringostat_contacts  # noqa: F401
import workers.obzvonilka_contacts  # noqa: F401
