export { MailSender, type OutgoingMail } from './mail-sender.js';
export { SmtpMailSender, MailDeliveryError, type SmtpMailSenderOptions } from './smtp-mail-sender.js';
export { mailConfig } from './mail-config.js';
// The local mail sink (a development and test server) is `@homiwork/mail/sink`: services never load it.
