"""Plain HTTP clients of the vendor APIs (no Celery here): one package per vendor, each with
`client.py` (the HTTP) and `models.py` (the doc's bodies and replies), plus what a vendor needs
besides (Ringostat's `minicrm.py`, Pozvonim's signing and tokens). Shared by all: `errors`
(the error tree), `http` (the transport and its status mapping), `deadline` (a bound on a
whole call), `redirects`, `surprises` (a 2xx the code did not expect), `validation`."""
