"""The worker process's machinery under the app: runtime services, topic topology, consumer
redelivery, the state directory, consumer lag, and the health/metrics web pages."""
