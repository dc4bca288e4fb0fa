"""Offline runner for the Step Functions workflows: embedded moto, local Lambda runtime, execution follower."""
