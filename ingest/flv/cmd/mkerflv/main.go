// Command mkerflv wraps raw elementary streams encoded by ffmpeg into an Enhanced-RTMP
// FLV file (veovera "Enhanced RTMP" v2, the ex-header tag form), because Debian's
// ffmpeg 5.1 can only write classic FLV. It makes testdata/hevc_aac.flv and
// testdata/av1_aac.flv; the commands are in testdata/README.md.
//
// Inputs:
//
//	-hevc FILE -timing CSV   H.265 Annex-B stream with an AUD before every access unit
//	                         (x265 aud=1) and its packet timing from ffprobe
//	                         (pts_time,dts_time,flags per line, decode order)
//	-av1 FILE                AV1 in IVF (ffmpeg -f ivf), one temporal unit per frame
//	-aac FILE                AAC-LC in ADTS (ffmpeg -f adts)
//
// What it writes, with the spec section of each field:
//
//   - FLV header and tags: FLV spec v10.1 annex E.2, E.3, E.4.1.
//   - onMetaData script tag (E.5): width, height, framerate, videocodecid = the video
//     FourCC as a number, audiocodecid = 10 (E-RTMP "Metadata Frame").
//   - Video SequenceStart: ExVideoTagHeader IsExHeader=1 FrameType=1 PacketType=0,
//     VideoFourCc, then HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2)
//     or AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3).
//   - Video frames: PacketType=1 CodedFrames with SI24 CompositionTime for hvc1 when
//     PTS != DTS, PacketType=3 CodedFramesX otherwise (hvc1); PacketType=1 without
//     CompositionTime for av01. FrameType 1 = key frame, 2 = inter frame.
//     HEVC payload: 4-byte NAL lengths (lengthSizeMinusOne = 3), AUD/VPS/SPS/PPS
//     removed (they are in the record). AV1 payload: low-overhead OBUs with
//     obu_has_size_field=1, temporal delimiters removed (AV1-ISOBMFF §2.4).
//   - Video SequenceEnd (PacketType=2) before the end.
//   - Audio: classic AAC tags (E.4.2.1 SoundFormat=10, AACPacketType 0 =
//     AudioSpecificConfig, 1 = raw frame), as OBS and the E-RTMP spec keep for AAC.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkerflv:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkerflv", flag.ContinueOnError)
	hevcPath := fs.String("hevc", "", "H.265 Annex-B elementary stream (with AUDs)")
	timingPath := fs.String("timing", "", "ffprobe packet timing CSV for -hevc")
	av1Path := fs.String("av1", "", "AV1 IVF file")
	aacPath := fs.String("aac", "", "AAC ADTS file")
	out := fs.String("o", "", "output FLV file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || (*hevcPath == "") == (*av1Path == "") && *aacPath == "" {
		return errors.New("usage: mkerflv (-hevc F -timing CSV | -av1 F) [-aac F] -o OUT")
	}
	var frames []frame
	var video *videoInput
	var err error
	switch {
	case *hevcPath != "":
		video, err = readHEVC(*hevcPath, *timingPath)
	case *av1Path != "":
		video, err = readAV1(*av1Path)
	}
	if err != nil {
		return err
	}
	if video != nil {
		frames = append(frames, video.frames...)
	}
	var audio *audioInput
	if *aacPath != "" {
		if audio, err = readAAC(*aacPath); err != nil {
			return err
		}
		frames = append(frames, audio.frames...)
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := write(f, video, audio, frames); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
