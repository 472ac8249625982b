"""The VPC the GPU workers run in: two AZs, private subnets with one NAT gateway, flow logs."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


class WorkerNetwork(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Env-agnostic: the AZs resolve at deploy time, so synth needs no account lookup.
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="workers", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20
                ),
            ],
        )
        self.vpc.add_flow_log("FlowLogs")
        # Workers reach SQS, DynamoDB and S3 without the NAT gateway's per-GB charge.
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.vpc.add_gateway_endpoint("DynamoDB", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
