#ifndef STYLEVID_CFFMPEG_SHIM_H
#define STYLEVID_CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/error.h>
#include <libavutil/display.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>

/* Macros Swift cannot import, re-exported as functions. */
static inline int shim_averror(int e) { return AVERROR(e); }
static inline int shim_averror_eof(void) { return AVERROR_EOF; }
static inline int shim_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t shim_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline int shim_av_error_max_string_size(void) { return AV_ERROR_MAX_STRING_SIZE; }
static inline int shim_sws_bicubic(void) { return SWS_BICUBIC; }
static inline int shim_sws_area(void) { return SWS_AREA; }
static inline int shim_sws_accurate(void) { return SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT; }
static inline int shim_codec_flag_global_header(void) { return AV_CODEC_FLAG_GLOBAL_HEADER; }
static inline int shim_codec_flag_qscale(void) { return AV_CODEC_FLAG_QSCALE; }
static inline int shim_fmt_globalheader(void) { return AVFMT_GLOBALHEADER; }
static inline int shim_fmt_nofile(void) { return AVFMT_NOFILE; }
static inline int shim_lambda(int q) { return q * FF_QP2LAMBDA; }
static inline AVChannelLayout shim_stereo_layout(void) { AVChannelLayout l = AV_CHANNEL_LAYOUT_STEREO; return l; }
#endif
