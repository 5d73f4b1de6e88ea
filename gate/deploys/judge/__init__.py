"""The post-deploy judge: is the canary worse than its baseline? Anytime-valid, explained, pure.

replay (judge_step, replay) runs the tests in errors and values, which share evidence; spec holds
what they are given, verdict what they answer, scenario the JSON file form. Pure functions of
their input: numpy and scipy, and nothing of gate outside this package.
"""
