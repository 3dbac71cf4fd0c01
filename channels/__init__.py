"""The channel layer: topics, publishing and local fan-out over memory or Redis pub/sub."""

from channels.base import BrokerBackend, TransportLost, TransportUnavailable
from channels.broker import Broker
from channels.subscriber import Subscriber, SubscriberOverflow, SubscriptionLost

__all__ = [
    "Broker",
    "BrokerBackend",
    "Subscriber",
    "SubscriberOverflow",
    "SubscriptionLost",
    "TransportLost",
    "TransportUnavailable",
]
