"""The engine advisor: the article's cost model and break-even rules behind `engine.preference: auto`."""

from .decision import Decision, DecisionInputs, Economics, ReasonCode, decide, decision_inputs_from

__all__ = ["Decision", "DecisionInputs", "Economics", "ReasonCode", "decide", "decision_inputs_from"]
