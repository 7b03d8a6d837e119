using SlmStudio.Core.Classification;
using SlmStudio.Core.Data;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>The engine's review of one labelled file, as the data step shows it (chart and problems).</summary>
public sealed record FileLabelReview(string FileName, string TextColumn, string LabelColumn, LabelledDataReview Review);

/// <summary>
/// Reviews the labelled rows of a project's CSV/JSONL files exactly as the user wrote them (<see cref="LabelledData"/>
/// keeps empty texts and labels that differ only by case or spaces, which extraction would hide), with
/// <see cref="LabelledDataReview"/>: counts per label and the problems in plain words.
/// </summary>
public static class LabelReviews
{
    public static IReadOnlyList<FileLabelReview> Of(DataUploads uploads, IEnumerable<DataFile> files, CancellationToken ct = default)
    {
        var reviews = new List<FileLabelReview>();
        foreach (var f in DataUploads.Usable(files).Where(f => f.Kind is nameof(DocumentKind.Csv) or nameof(DocumentKind.Jsonl)))
        {
            ct.ThrowIfCancellationRequested();
            var mapping = MappingOf(uploads, f);
            if (mapping is not { TextColumn: { } text, LabelColumn: { } label }) continue;
            var read = LabelledData.ReadFile(uploads.StoredPath(f), f.OriginalName, text, label, ct);
            if (read.Examples.Count == 0) continue;
            reviews.Add(new FileLabelReview(SafeFileName.ForDisplay(f.OriginalName), text, label, LabelledDataReview.Of(read.Examples)));
        }
        return reviews;
    }

    /// <summary>The mapping the file was read with: the one the user chose, or the suggestion extraction used.</summary>
    private static ColumnMapping? MappingOf(DataUploads uploads, DataFile f)
    {
        if (f.Mapping is { } chosen)
        {
            try { return ColumnMapping.Parse(chosen); }
            catch (FormatException) { return null; }
        }
        return uploads.PreviewTable(f).SuggestedMapping;
    }
}
