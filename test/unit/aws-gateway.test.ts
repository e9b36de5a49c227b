// The AWS gateway's translations (test/platform/aws-gateway.ts), without servers: which host names it
// serves, the POST it sends moto for a presigned GetCallerIdentity, and the JSON the authenticator parses.
// The whole path, with the real authenticator and aws CLI, is test/int/login-platform.int.test.ts.
import { describe, expect, it } from 'vitest';
import {
  callerIdentityXmlToJson,
  presignedCallerIdentityAsPost,
  serviceOf,
} from '../../test/platform/aws-gateway.js';

describe('AWS gateway', () => {
  it('serves STS (global and regional), IAM and regional EKS host names, nothing else', () => {
    expect(serviceOf('sts.amazonaws.com')).toBe('sts');
    expect(serviceOf('sts.eu-west-1.amazonaws.com:443')).toBe('sts');
    expect(serviceOf('iam.amazonaws.com')).toBe('iam');
    expect(serviceOf('eks.us-east-1.amazonaws.com')).toBe('eks');
    expect(serviceOf('eks.amazonaws.com')).toBeUndefined();
    expect(serviceOf('s3.amazonaws.com')).toBeUndefined();
    expect(serviceOf('sts.amazonaws.com.example.org')).toBeUndefined();
    expect(serviceOf('example.org')).toBeUndefined();
  });

  it('turns a presigned GetCallerIdentity into the signed POST moto answers as the caller', () => {
    const url = new URL(
      'https://sts.us-east-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15' +
        '&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261130%2Fus-east-1%2Fsts%2Faws4_request' +
        '&X-Amz-Date=20261130T040000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id' +
        '&X-Amz-Security-Token=session%2Ftoken&X-Amz-Signature=abc123',
    );
    expect(presignedCallerIdentityAsPost(url)).toEqual({
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        authorization:
          'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261130/us-east-1/sts/aws4_request, ' +
          'SignedHeaders=host;x-k8s-aws-id, Signature=abc123',
        'x-amz-date': '20261130T040000Z',
        'x-amz-security-token': 'session/token',
      },
    });
    // Anything but a presigned GetCallerIdentity is not translated (the gateway refuses it).
    expect(
      presignedCallerIdentityAsPost(new URL(url.href.replace('GetCallerIdentity', 'AssumeRole'))),
    ).toBeUndefined();
    expect(
      presignedCallerIdentityAsPost(new URL('https://sts.amazonaws.com/?Action=GetCallerIdentity')),
    ).toBeUndefined();
  });

  it('answers JSON in the shape the authenticator parses', () => {
    const xml =
      '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
      '<Arn>arn:aws:sts::123456789012:assumed-role/eksa-alice/EKSGetTokenAuth</Arn>' +
      '<UserId>AROAEXAMPLE:EKSGetTokenAuth</UserId><Account>123456789012</Account></GetCallerIdentityResult>' +
      '<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>';
    expect(JSON.parse(callerIdentityXmlToJson(xml) ?? 'null')).toEqual({
      GetCallerIdentityResponse: {
        GetCallerIdentityResult: {
          Account: '123456789012',
          Arn: 'arn:aws:sts::123456789012:assumed-role/eksa-alice/EKSGetTokenAuth',
          UserId: 'AROAEXAMPLE:EKSGetTokenAuth',
        },
        ResponseMetadata: { RequestId: 'r-1' },
      },
    });
    expect(
      callerIdentityXmlToJson(
        '<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>',
      ),
    ).toBeUndefined();
  });
});
