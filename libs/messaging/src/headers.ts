/** Message headers the system writes on every event, besides Nats-Msg-Id and trace context. */
export const EVENT_TYPE_HEADER = 'Hw-Event-Type';
export const OCCURRED_AT_HEADER = 'Hw-Occurred-At';

/** Added when a message is moved to the dead-letter stream. */
export const DLQ_REASON_HEADER = 'Hw-Dlq-Reason';
export const DLQ_ERROR_HEADER = 'Hw-Dlq-Error';
export const DLQ_CONSUMER_HEADER = 'Hw-Dlq-Consumer';
export const DLQ_DELIVERIES_HEADER = 'Hw-Dlq-Deliveries';
export const DLQ_ORIGINAL_SUBJECT_HEADER = 'Hw-Dlq-Subject';
