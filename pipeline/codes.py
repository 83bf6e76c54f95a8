"""Finding codes: dotted, stable, each with the one sentence the README shows.

Add a code here before using it; ``tests/unit/test_codes.py`` checks that every code used in the
package is listed here and in the README.
"""

from __future__ import annotations

from typing import Final

CODES: Final[dict[str, str]] = {
    # audio: one recording
    "audio.unreadable": "The file is not audio libsndfile can read (empty, truncated, not a WAV).",
    "audio.low_sample_rate": "Sample rate below the profile's minimum (16 kHz); never upsampled.",
    "audio.too_short": "Clip shorter than the profile's minimum duration.",
    "audio.too_long": "Clip longer than the profile's maximum duration (Huawei: never > 15 s).",
    "audio.clipping": "Runs of full-scale samples: the recording is clipped.",
    "audio.silent": "Digital silence or no speech above the noise floor.",
    "audio.low_snr": "Estimated SNR below the warning (35 dB) or error (20 dB) threshold.",
    "audio.no_speech": "Sound but no speech: the voice-activity detector hears less than 0.5 s "
    "of speech in it (noise, music, a tone).",
    "audio.little_speech": "Speech is under half of the (trimmed) clip: the rest is noise, "
    "music or pauses.",
    "audio.long_pause": "Huawei sentences: a pause of 1.5 s or more inside the clip (Huawei "
    "splits sentences on 2–3 s pauses).",
    "audio.dc_offset": "A DC offset was removed.",
    "audio.resampled": "Resampled to the profile's rate.",
    "audio.downmixed": "Several channels mixed down to mono.",
    "audio.requantized": "Converted to the profile's sample format (PCM16).",
    "audio.silence_trimmed": "Leading/trailing silence trimmed or padded to 100–200 ms.",
    "audio.gain_adjusted": "Gain changed to bring the peak into the profile's target range.",
    "audio.gain_capped": "Too quiet to reach the target peak within the gain cap (+20 dB).",
    "audio.quiet": "Loudness well below the usual speech level.",
    "audio.file_too_large": "The file is larger than the configured limit.",
    "audio.not_wav": "A recording that is not a .wav file.",
    # transcripts
    "transcript.missing": "A recording has no transcript.",
    "transcript.orphan": "A transcript names a recording that does not exist.",
    "transcript.empty": "A transcript is empty.",
    "transcript.duplicate": "A recording has more than one transcript.",
    "transcript.unreadable": "A transcript file cannot be decoded (UTF-8, UTF-16 with BOM; "
    "GB18030/GBK only for Chinese voices) or holds characters its voice's language cannot; "
    "the message names the byte offset.",
    "transcript.malformed": "A line of transcripts.tsv or metadata.csv does not parse.",
    "transcript.control_chars": "Control characters were removed from a transcript.",
    "transcript.too_long": "A transcript line is longer than the configured limit.",
    "transcript.mismatch": "The speech does not say its transcript (heard offline by the "
    "content pre-flight); names the clip whose text it says when that is another clip of the "
    "voice. Error for Huawei basic/middle, warning for a weaker doubt.",
    # content: what the recordings say
    "consent.mismatch": "Azure: consent.wav does not say the consent statement with the "
    "voice's talent_name and company_name (another company, or not the statement at all).",
    "content.not_checked": "Info: no recognizer for the voice's language (or its recording "
    "could not be heard), so its content was not checked; `[content] models` adds one.",
    # voice: the folder as a whole
    "voice.metadata_missing": "voice.toml is missing.",
    "voice.metadata_invalid": "voice.toml does not parse, has an unknown key or a bad value.",
    "voice.clip_count": "Wrong number of recordings for the profile (Huawei basic 20, middle 100).",
    "voice.total_duration": "Total audio outside the profile's bounds.",
    "voice.duration_out_of_tenant_range": "Huawei: the voice's total audio is outside the "
    "tenant's duration range (ShowTenantDurationCfg); the message gives the tenant's figures.",
    "voice.missing_authorization": "Huawei: no authorization letter (.pdf/.jpg/.jpeg/.png).",
    "voice.missing_consent": "Azure: no consent.wav.",
    "voice.missing_talent": "Azure: talent_name, company_name or locale missing in voice.toml.",
    "voice.unsafe_path": "A symlink or path leading outside the inbox was refused.",
    "voice.unsafe_name": "A folder or file name with control characters or non-UTF-8 bytes was refused.",
    "voice.unreadable": "The voice folder or one of its entries cannot be listed or examined.",
    "voice.no_audio": "The voice folder holds no recordings.",
    "voice.unexpected_file": "A file the inbox layout does not know; it is not sent.",
    "voice.changed_after_submit": "Recordings changed after submission; the earlier job is kept.",
    "voice.too_many_clips": "More recordings than the configured limit ([limits] max_clips).",
    "voice.duplicate_name": "Another voice folder of the batch has the same voice_name; "
    "neither is sent.",
    "voice.gone": "The voice folder left the inbox before the voice was sent; put it back to "
    "send it.",
    # inbox: the batch as a whole (the manifest's top-level findings, not a voice's)
    "inbox.skipped": "A hidden folder (name starting with '.') at the inbox's top level was "
    "skipped; it is not a voice.",
    # remote: what the provider said
    "remote.audit_failed": "Huawei review failed (AUDIT_FAILED); per-file reasons follow.",
    "remote.split_failed": "Huawei could not split the long recording (SPLIT_FAILED).",
    "remote.review_rejected": "Huawei result review rejected (USER_REVIEW_REJECT).",
    "remote.job_failed": "The provider reports the job FAILED; code and reason kept.",
    "remote.segment_mismatch": "Huawei segment confirmation found text that does not match the audio.",
    "remote.consent_failed": "Azure consent failed verification.",
    "remote.deleted": "Azure: the voice's consent or personal voice was deleted after it succeeded (`status --verify`); `retry --force` creates new ones.",
    "remote.upload_failed": "An upload kept failing past the retry budget.",
    "remote.error": "A provider call failed for this voice; the message says which.",
}
