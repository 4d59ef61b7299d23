"""The five services of the design (seed 2), each as endpoints, event handlers and jobs that run
the domain of ``concertsim.models`` inside its host's local transactions.

Every service module exposes the same three things, read by ``concertsim.sim.system``:

- ``ENDPOINTS``: endpoint name -> request handler (a SimPy generator returning a reply);
- ``subscriptions(host)``: event type -> the work that handles it, for the design's switches;
- ``jobs(host)``: name -> factory of a scheduled background loop;
- ``CALLS``: endpoint -> the endpoints of other services it calls synchronously;
- ``PUBLISHES``: the event types the service raises.
"""
