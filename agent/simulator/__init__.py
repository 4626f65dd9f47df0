"""The simulated Microsoft 365 tenant: Entra ID, Graph, EWS and SharePoint over one local HTTPS origin."""

from agent.simulator.server import Simulator

__all__ = ["Simulator"]
