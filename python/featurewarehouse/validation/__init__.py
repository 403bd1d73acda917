"""Great Expectations suites for every model: generate (suites), run in the warehouse
(runner; it and its gx_* modules are the only ones importing great_expectations), record
(report), gate serving (gate).

Entry points: :func:`featurewarehouse.validation.run.generate` and
:func:`featurewarehouse.validation.run.validate`; the serving gate is
:func:`featurewarehouse.validation.gate.make_gate`.
"""
