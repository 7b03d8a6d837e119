using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using UglyToad.PdfPig.Core;
using UglyToad.PdfPig.Fonts.Standard14Fonts;
using UglyToad.PdfPig.Writer;

namespace SlmStudio.Core.Tests.Data;

/// <summary>A temporary folder per test, and generators for real PDF, DOCX and PNG files.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "slm-data-tests", Guid.NewGuid().ToString("N"));

    public TempFolder() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string text, Encoding? encoding = null)
    {
        var path = File(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllText(path, text, encoding ?? new UTF8Encoding(false));
        return path;
    }

    public string Write(string name, byte[] bytes)
    {
        var path = File(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public static class DataFixtures
{
    /// <summary>A real PDF with a text layer: one page per entry, each page's lines written top to bottom.</summary>
    public static byte[] Pdf(params string[][] pages)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        foreach (var lines in pages)
        {
            var page = builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
            double y = 780;
            foreach (var line in lines)
            {
                if (line.Length > 0) page.AddText(line, 11, new PdfPoint(50, y), font);
                y -= line.Length == 0 ? 30 : 14;
            }
        }
        return builder.Build();
    }

    /// <summary>A "scanned" PDF: pages that hold only a picture, no text layer.</summary>
    public static byte[] ScannedPdf(int pages = 2, string[]? textPage = null)
    {
        var builder = new PdfDocumentBuilder();
        var font = builder.AddStandard14Font(Standard14Font.Helvetica);
        var png = Png(32, 32);
        for (int i = 0; i < pages; i++)
        {
            var page = builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
            page.AddPng(png, new PdfRectangle(50, 300, 550, 800));
        }
        if (textPage is not null)
        {
            var page = builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
            double y = 780;
            foreach (var line in textPage) { page.AddText(line, 11, new PdfPoint(50, y), font); y -= 14; }
        }
        return builder.Build();
    }

    /// <summary>A grey RGB PNG written by hand (signature, IHDR, zlib IDAT, IEND with CRC-32s).</summary>
    public static byte[] Png(int width, int height)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (int x = 0; x < width * 3; x++) raw.WriteByte((byte)((x * 7 + y * 13) & 0xFF));
        }
        var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.Optimal, leaveOpen: true)) raw.WriteTo(z);
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        WriteBigEndian(ihdr, 0, width);
        WriteBigEndian(ihdr, 4, height);
        ihdr[8] = 8; ihdr[9] = 2;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", idat.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();

        static void Chunk(Stream s, string type, byte[] data)
        {
            var len = new byte[4];
            WriteBigEndian(len, 0, data.Length);
            s.Write(len);
            var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            s.Write(typeAndData);
            var crc = new byte[4];
            WriteBigEndian(crc, 0, (int)Crc32.HashToUInt32(typeAndData));
            s.Write(crc);
        }

        static void WriteBigEndian(byte[] b, int at, int v)
        {
            b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
        }
    }

    /// <summary>A real Word document: a heading, paragraphs and a table.</summary>
    public static byte[] Docx(string heading, string[] paragraphs, string[][]? table = null) => TestSupport.WordDocuments.Docx(heading, paragraphs, table);

    /// <summary>A zip that claims to be a Word document and inflates to <paramref name="inflatedBytes"/> of spaces.</summary>
    public static byte[] ZipBombDocx(long inflatedBytes)
    {
        var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var w = new StreamWriter(zip.CreateEntry("[Content_Types].xml").Open()))
                w.Write("<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>");
            using var s = zip.CreateEntry("word/document.xml", CompressionLevel.Optimal).Open();
            var chunk = new byte[1 << 20];
            Array.Fill(chunk, (byte)' ');
            for (long written = 0; written < inflatedBytes; written += chunk.Length) s.Write(chunk);
        }
        return stream.ToArray();
    }

    /// <summary>
    /// A hand-written one-page PDF whose page content is <paramref name="content"/>, Flate-compressed. Used for hostile
    /// PDFs: a small file whose content stream inflates to hundreds of megabytes, or holds millions of operators.
    /// </summary>
    public static byte[] RawPdf(Action<Stream> content)
    {
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) content(z);
        var stream = compressed.ToArray();
        var objects = new List<byte[]>
        {
            Encoding.ASCII.GetBytes("<< /Type /Catalog /Pages 2 0 R >>"),
            Encoding.ASCII.GetBytes("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            Encoding.ASCII.GetBytes("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"),
            Encoding.ASCII.GetBytes($"<< /Length {stream.Length} /Filter /FlateDecode >>\nstream\n").Concat(stream).Concat(Encoding.ASCII.GetBytes("\nendstream")).ToArray(),
            Encoding.ASCII.GetBytes("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
        };
        var pdf = new MemoryStream();
        void Ascii(string s) => pdf.Write(Encoding.ASCII.GetBytes(s));
        Ascii("%PDF-1.4\n");
        var offsets = new List<long>();
        for (int i = 0; i < objects.Count; i++)
        {
            offsets.Add(pdf.Length);
            Ascii($"{i + 1} 0 obj\n");
            pdf.Write(objects[i]);
            Ascii("\nendobj\n");
        }
        var xref = pdf.Length;
        Ascii($"xref\n0 {objects.Count + 1}\n0000000000 65535 f \n");
        foreach (var o in offsets) Ascii($"{o:D10} 00000 n \n");
        Ascii($"trailer\n<< /Size {objects.Count + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n");
        return pdf.ToArray();
    }

    /// <summary>An 1 MB PDF whose page content inflates to <paramref name="megabytes"/> MB.</summary>
    public static byte[] InflatingPdf(int megabytes) => RawPdf(s =>
    {
        s.Write("BT /F1 12 Tf 50 700 Td (Hi) Tj ET\n"u8);
        var spaces = new byte[1 << 20];
        Array.Fill(spaces, (byte)' ');
        for (int i = 0; i < megabytes; i++) s.Write(spaces);
    });

    /// <summary>A small PDF with millions of text operators: slow to parse however much memory is allowed.</summary>
    public static byte[] SlowPdf(int operators) => RawPdf(s =>
    {
        s.Write("BT /F1 12 Tf 50 700 Td "u8);
        var op = "(a) Tj 1 0 Td "u8.ToArray();
        for (int i = 0; i < operators; i++) s.Write(op);
        s.Write("ET"u8);
    });
}
