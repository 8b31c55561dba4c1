/**
 * The public face of the image folder: everything that touches pixels. Decode once into RGBA
 * (`RawImage`), cut, merge, reproject and encode from there.
 */
export type { EncodedImage, ImageOptions, RawImage, Resampling } from './types.js';
export {
  extensionForMime,
  mimeFromMagic,
  parseImageFormat,
  tryParseImageFormat,
  UnknownImageFormatError,
  type ImageFormat,
} from './format.js';
export { decodeImage, encodedMime, encodeImage, encodeImageWithMime, isOpaqueOutput, type EncodeExtras } from './codec.js';
export { addGeoTiffTags, epsgNumber, type GeoReference } from './geotiff.js';
export { cutMetaTile, splitMetaTile, type SplitTile } from './tiles.js';
export { blankImage, compositeOnto, mergeImages, solidImage, transparentColor, type MergeLayer } from './merge.js';
export { scaleImage, sourceRequestFor, transformImage, type TransformOptions } from './transform.js';
export { debugImage, debugLines, textImage, type TextOptions } from './debug.js';
export {
  backgroundOf,
  cropRaw,
  flattenRaw,
  hasTransparency,
  pasteRaw,
  rawImage,
  singleColor,
  solidRaw,
  stitchTiles,
  type Rgba,
} from './raw.js';
export { quantize, quantizeAsync, type Quantized } from './quantize.js';
export { imageJobLimit, imageJobState, libuvPoolSize, onImagePool, setImageJobLimit } from './pool.js';
export { configureImaging, isSharpLoaded, sharpLib, type ImagingSettings, type SharpLib } from './sharp.js';
