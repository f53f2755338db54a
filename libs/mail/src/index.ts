export { MailSender, type OutgoingMail } from './mail-sender.js';
export { SmtpMailSender, MailDeliveryError, type SmtpMailSenderOptions } from './smtp-mail-sender.js';
export { mailConfig, DEFAULT_MAIL_FROM, type MailConfig } from './mail-config.js';
export { startMailSink, MAX_SINK_MESSAGES, MAX_SINK_MESSAGE_BYTES, type MailSink, type MailSinkOptions, type SinkMessage } from './mail-sink.js';
