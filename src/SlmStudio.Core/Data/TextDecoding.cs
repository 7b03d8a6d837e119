using System.Text;
using UtfUnknown;

namespace SlmStudio.Core.Data;

/// <summary>
/// Turns the bytes of a text file into a string whatever its encoding: a byte-order mark wins, then strict UTF-8,
/// then UTF-16 without a mark, then the charset detector (UTF.Unknown, a port of Mozilla's detector) for legacy
/// code pages such as Windows-1252, ISO-8859-x, Shift-JIS or GB2312.
/// </summary>
public static class TextDecoding
{
    static TextDecoding() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static (string Text, string EncodingName) Decode(byte[] bytes)
    {
        var (bomEncoding, bomLength) = DetectBom(bytes);
        if (bomEncoding is not null)
            return (bomEncoding.GetString(bytes, bomLength, bytes.Length - bomLength), bomEncoding.WebName);

        var utf16 = GuessUtf16WithoutBom(bytes);
        if (utf16 is not null) return (utf16.GetString(bytes), utf16.WebName);

        try
        {
            return (new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes), "utf-8");
        }
        catch (DecoderFallbackException)
        {
            // Not UTF-8: a legacy single- or multi-byte code page.
        }

        var detected = CharsetDetector.DetectFromBytes(bytes).Detected;
        Encoding encoding;
        try
        {
            encoding = detected?.Encoding ?? (detected?.EncodingName is { } name ? Encoding.GetEncoding(name) : Encoding.GetEncoding(1252));
        }
        catch (ArgumentException)
        {
            encoding = Encoding.GetEncoding(1252);
        }
        return (encoding.GetString(bytes), encoding.WebName);
    }

    public static (Encoding? Encoding, int Length) DetectBom(ReadOnlySpan<byte> b)
    {
        if (b.Length >= 4 && b[0] == 0xFF && b[1] == 0xFE && b[2] == 0 && b[3] == 0) return (new UTF32Encoding(false, true), 4);
        if (b.Length >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xFE && b[3] == 0xFF) return (new UTF32Encoding(true, true), 4);
        if (b.Length >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) return (new UTF8Encoding(false), 3);
        if (b.Length >= 2 && b[0] == 0xFF && b[1] == 0xFE) return (new UnicodeEncoding(false, true), 2);
        if (b.Length >= 2 && b[0] == 0xFE && b[1] == 0xFF) return (new UnicodeEncoding(true, true), 2);
        return (null, 0);
    }

    /// <summary>UTF-16 text of Latin-script languages has a zero in every other byte; nothing else looks like that.</summary>
    public static Encoding? GuessUtf16WithoutBom(ReadOnlySpan<byte> b)
    {
        var n = Math.Min(b.Length, 4096) & ~1;
        if (n < 4) return null;
        int evenZeros = 0, oddZeros = 0;
        for (int i = 0; i < n; i += 2)
        {
            if (b[i] == 0) evenZeros++;
            if (b[i + 1] == 0) oddZeros++;
        }
        var pairs = n / 2;
        if (oddZeros > pairs * 0.4 && evenZeros < pairs * 0.05) return new UnicodeEncoding(false, false);
        if (evenZeros > pairs * 0.4 && oddZeros < pairs * 0.05) return new UnicodeEncoding(true, false);
        return null;
    }

    /// <summary>
    /// Whether the first bytes of a file look like text in some encoding: no zero bytes (unless UTF-16/32) and almost
    /// no control characters other than tab, newline, carriage return and form feed.
    /// </summary>
    public static bool LooksLikeText(ReadOnlySpan<byte> head)
    {
        if (head.Length == 0) return true;
        if (DetectBom(head).Encoding is not null || GuessUtf16WithoutBom(head) is not null) return true;
        int control = 0;
        foreach (var c in head)
        {
            if (c == 0) return false;
            if (c < 0x20 && c is not (0x09 or 0x0A or 0x0D or 0x0C or 0x1B)) control++;
        }
        return control <= head.Length / 100;
    }
}
