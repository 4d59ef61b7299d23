"""The five services of the design (seed 2), each as endpoints, event handlers and jobs that run
the domain of ``concertsim.models`` inside its host's local transactions.

Every service module exposes the same three things, read by ``concertsim.sim.run.system``:

- ``ENDPOINTS``: endpoint name -> request handler (a SimPy generator returning a reply);
- ``subscriptions(host)``: event type -> the work that handles it, for the design's switches;
- ``jobs(host)``: name -> factory of a scheduled background loop;
- ``CALLS``: endpoint -> the endpoints of other services it calls synchronously;
- ``PUBLISHES``: the event types the service raises.

May import: ``sim.hosting`` and ``sim.infrastructure``; never ``sim.messaging`` (a service raises
events through its host's transactions and hands its event handling to whoever delivers the
events) nor ``sim.run``.
"""
