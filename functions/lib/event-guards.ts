// The webhook function receives two kinds of invocation (Function URL requests and
// EventBridge events): these tell them apart. The event shapes are @types/aws-lambda's.
import type { EventBridgeEvent, LambdaFunctionURLEvent } from 'aws-lambda';

export type AnyEventBridgeEvent = EventBridgeEvent<string, unknown>;

export function isFunctionUrlEvent(event: unknown): event is LambdaFunctionURLEvent {
  return typeof event === 'object' && event !== null && 'requestContext' in event && 'rawPath' in event;
}

export function isEventBridgeEvent(event: unknown): event is AnyEventBridgeEvent {
  return typeof event === 'object' && event !== null && 'detail-type' in event && 'source' in event;
}
