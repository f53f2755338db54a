import sharp from 'sharp';

// The server has 2 cores and transforms one image per request: one libvips thread per
// image keeps a large image from starving the event loop and the other requests.
sharp.concurrency(1);

// No libvips operation cache: every pipeline runs once, so a cache buys no speed, and it
// would keep pixels of a user's image in memory after the request that brought it ended
// (with the 64 MB/20 items setting, 20 operations and some MB of pixels stayed behind).
sharp.cache(false);

// Only the decoders of accepted formats may run, whatever bytes reach sharp: the sniffer
// already refuses the rest, and this keeps SVG, PDF, TIFF, RAW and friends out even if a
// caller forgets to sniff. Encoders are untouched.
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({
  operation: ['Jpeg', 'Png', 'Webp', 'Nsgif', 'Heif'].flatMap((decoder) => [`VipsForeignLoad${decoder}File`, `VipsForeignLoad${decoder}Buffer`]),
});

export { sharp };
