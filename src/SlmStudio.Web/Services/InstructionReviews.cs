using SlmStudio.Core.Data;
using SlmStudio.Core.Instruction;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>The engine's review of one file of question/answer pairs, as the data step shows it.</summary>
/// <param name="QuestionColumn">The column the questions come from; null when the file has no question/answer mapping
/// (then the engine's default columns, or the "messages" form of JSONL chats, are read).</param>
public sealed record FileInstructionReview(string FileName, string? QuestionColumn, string? AnswerColumn, InstructionDataReview Review);

/// <summary>
/// Reviews the question/answer pairs of a project's CSV/JSONL/XLSX files exactly as the user wrote them
/// (<see cref="InstructionData"/> keeps rows with an empty question or answer so they can be listed) with
/// <see cref="InstructionDataReview"/>: empty answers, duplicate questions with different answers, too few pairs.
/// </summary>
public static class InstructionReviews
{
    public static IReadOnlyList<FileInstructionReview> Of(DataUploads uploads, IEnumerable<DataFile> files, CancellationToken ct = default)
    {
        var reviews = new List<FileInstructionReview>();
        foreach (var f in DataUploads.Usable(files).Where(f => f.Kind is nameof(DocumentKind.Csv) or nameof(DocumentKind.Jsonl)))
        {
            ct.ThrowIfCancellationRequested();
            var mapping = MappingOf(uploads, f);
            var columns = mapping is { PromptColumn: { } q, ResponseColumn: { } a } ? new InstructionColumns(q, a, mapping.SystemColumn) : new InstructionColumns();
            var read = InstructionData.ReadFile(uploads.StoredPath(f), f.OriginalName, columns, ct);
            if (read.Conversations.Count == 0) continue;
            reviews.Add(new FileInstructionReview(SafeFileName.ForDisplay(f.OriginalName), mapping?.PromptColumn, mapping?.ResponseColumn,
                InstructionDataReview.Of(read.Conversations)));
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
