using System.Text.Json;
using SlmStudio.Core.Data;
using SlmStudio.Core.Tokenization;

namespace SlmStudio.Core.Instruction;

/// <summary>
/// One training conversation as the user wrote it: system/user/assistant messages (a question/answer row becomes an
/// optional system message, the question and the answer) and the row or line it came from (spreadsheet numbering).
/// Texts are kept as written apart from line-end cleaning, so that the review can point at empty answers.
/// </summary>
public sealed record Conversation(IReadOnlyList<ChatMessage> Messages, int Row)
{
    /// <summary>The first user message: what the review compares to find the same question asked twice.</summary>
    public string Question => Messages.FirstOrDefault(m => m.Role == "user")?.Content ?? "";

    /// <summary>The last assistant message: the answer a one-question evaluation expects.</summary>
    public string Answer => Messages.LastOrDefault(m => m.Role == "assistant")?.Content ?? "";

    /// <summary>The messages before the last answer: what the model is asked in an evaluation.</summary>
    public IReadOnlyList<ChatMessage> Prompt
    {
        get
        {
            var last = Messages.Count - 1;
            while (last >= 0 && Messages[last].Role != "assistant") last--;
            return last < 0 ? Messages : [.. Messages.Take(last)];
        }
    }

    /// <summary>True when there is something to learn: a question and a non-empty answer.</summary>
    public bool IsUsable => Messages.Any(m => m.Role == "user" && !string.IsNullOrWhiteSpace(m.Content))
                            && Messages.Any(m => m.Role == "assistant" && !string.IsNullOrWhiteSpace(m.Content));

    /// <summary>A one-question conversation: optional system (or context) text, the question, the answer.</summary>
    public static Conversation Pair(string question, string answer, string? system = null, int row = 0) =>
        new(string.IsNullOrWhiteSpace(system)
            ? [new ChatMessage("user", question), new ChatMessage("assistant", answer)]
            : [new ChatMessage("system", system), new ChatMessage("user", question), new ChatMessage("assistant", answer)], row);
}

/// <summary>The conversations of one file and the problems met while reading it.</summary>
public sealed record InstructionFile(IReadOnlyList<Conversation> Conversations, IReadOnlyList<DataProblem> Problems)
{
    public bool IsUsable => Conversations.Any(c => c.IsUsable) && !Problems.Any(p => p.Severity == ProblemSeverity.Error);
}

/// <summary>Which columns hold the question, the answer and (optionally) a system or context text.</summary>
public sealed record InstructionColumns(string Question = InstructionColumns.DefaultQuestion, string Answer = InstructionColumns.DefaultAnswer, string? System = null)
{
    public const string DefaultQuestion = "question";
    public const string DefaultAnswer = "answer";
    /// <summary>The JSONL field of multi-turn chats: <c>{"messages": [{"role": "user", "content": "…"}, …]}</c>.</summary>
    public const string MessagesField = "messages";
}

/// <summary>
/// Reads question/answer pairs from CSV, JSONL or Excel (.xlsx) through <see cref="TabularReader"/>, and multi-turn chats
/// from JSONL in the common <c>messages: [{role, content}]</c> form (chosen automatically when the file has a
/// "messages" field). Rows with an empty question or answer are kept so that the review can list them.
/// </summary>
public static class InstructionData
{
    public static InstructionFile ReadFile(string path, InstructionColumns columns, CancellationToken ct = default) =>
        ReadFile(path, Path.GetFileName(path), columns, ct);

    public static InstructionFile ReadFile(string storedPath, string originalName, InstructionColumns columns, CancellationToken ct = default)
    {
        var display = SafeFileName.ForDisplay(originalName);
        if (Directory.Exists(storedPath))
            return Failed(display, $"'{display}' is a folder.", "For answering questions, give one CSV, JSONL or Excel (.xlsx) file with a question column and an answer column.");
        if (!File.Exists(storedPath)) return Failed(display, $"The data file '{display}' does not exist.", "Check the path and try again.");
        var problems = new List<DataProblem>();
        TabularReader.Table table;
        if (Path.GetExtension(originalName).Equals(".xlsx", StringComparison.OrdinalIgnoreCase))
        {
            var size = new FileInfo(storedPath).Length;
            if (size > DataLimits.Default.MaxFileBytes)
                return Failed(display, $"This workbook is {size / (1024 * 1024):N0} MB, more than the {DataLimits.Default.MaxFileBytes / (1024 * 1024):N0} MB a data file may have.", "Split it into smaller files, or save only the needed columns as CSV.");
            table = TabularReader.ReadXlsx(storedPath, display, problems, ct);
        }
        else
        {
            var check = FileInspector.Inspect(storedPath, originalName, DataLimits.Default);
            if (!check.IsAccepted) return new InstructionFile([], check.Problems);
            if (check.Kind is not (DocumentKind.Csv or DocumentKind.Jsonl))
                return Failed(display, "Question and answer pairs must come from a CSV, JSONL or Excel (.xlsx) file.",
                    "Save the pairs as CSV or Excel (one row per pair, a column for the question and one for the answer), or as JSON Lines.");
            table = TabularReader.Read(DocumentExtractor.ReadText(storedPath), check.Kind, display, problems, ct);
        }
        return FromTable(table, display, columns, problems, ct);
    }

    /// <summary>Rows of <paramref name="content"/> (the text of a CSV or JSONL file) as conversations.</summary>
    public static InstructionFile Read(string content, DocumentKind kind, string display, InstructionColumns columns, CancellationToken ct = default)
    {
        var problems = new List<DataProblem>();
        return FromTable(TabularReader.Read(content, kind, display, problems, ct), display, columns, problems, ct);
    }

    private static InstructionFile FromTable(TabularReader.Table table, string display, InstructionColumns columns, List<DataProblem> problems, CancellationToken ct)
    {
        if (problems.Any(p => p.Severity == ProblemSeverity.Error)) return new InstructionFile([], problems);
        var messages = ColumnIndex(table.Columns, InstructionColumns.MessagesField);
        if (messages >= 0 && ColumnIndex(table.Columns, columns.Question) < 0) return FromMessages(table, messages, display, problems, ct);

        var names = table.Columns.Count == 0 ? "(none)" : string.Join(", ", table.Columns.Take(20).Select(c => $"'{SafeFileName.ForDisplay(c)}'"));
        var question = ColumnIndex(table.Columns, columns.Question);
        var answer = ColumnIndex(table.Columns, columns.Answer);
        var system = columns.System is { } s ? ColumnIndex(table.Columns, s) : -1;
        if (question < 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, $"The question column '{columns.Question}' is not in this file. Its columns are: {names}.",
                "Pick the column that holds the questions, or rename that column in the file's first row."));
        if (answer < 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, $"The answer column '{columns.Answer}' is not in this file. Its columns are: {names}.",
                "Pick the column that holds the answers, or rename that column in the file's first row."));
        if (columns.System is not null && system < 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, $"The system or context column '{columns.System}' is not in this file. Its columns are: {names}.",
                "Pick the column that holds the context for each question, or leave it out."));
        if (question < 0 || answer < 0 || (columns.System is not null && system < 0)) return new InstructionFile([], problems);

        var conversations = new List<Conversation>(table.Rows.Count);
        foreach (var row in table.Rows)
        {
            ct.ThrowIfCancellationRequested();
            // A frozen dataset version writes pairs as question and answer fields and whole conversations (several turns,
            // or a context text) as a "messages" list, in the same file.
            if (messages >= 0 && string.IsNullOrWhiteSpace(row.Cells[question]) && !string.IsNullOrWhiteSpace(row.Cells[messages])
                && ParseMessages(row.Cells[messages], out _) is { } turns)
            {
                conversations.Add(new Conversation(turns, row.Number));
                continue;
            }
            conversations.Add(Conversation.Pair(Clean(row.Cells[question]), Clean(row.Cells[answer]), system >= 0 ? Clean(row.Cells[system]) : null, row.Number));
        }
        return new InstructionFile(conversations, problems);
    }

    private static InstructionFile FromMessages(TabularReader.Table table, int column, string display, List<DataProblem> problems, CancellationToken ct)
    {
        var conversations = new List<Conversation>(table.Rows.Count);
        int bad = 0;
        foreach (var row in table.Rows)
        {
            ct.ThrowIfCancellationRequested();
            var parsed = ParseMessages(row.Cells[column], out var why);
            if (parsed is null)
            {
                if (++bad <= 20)
                    problems.Add(new DataProblem(display, row.Number, ProblemSeverity.Warning, $"Line {row.Number}: {why} This line was left out.",
                        "Each line must look like {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}, {\"role\": \"assistant\", \"content\": \"...\"}]}."));
                continue;
            }
            conversations.Add(new Conversation(parsed, row.Number));
        }
        if (bad > 20)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Warning, $"{bad - 20} more lines had unreadable messages and were left out ({bad} in all).",
                "Check that every line has a \"messages\" list of {\"role\", \"content\"} objects."));
        if (conversations.Count == 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "No line of this file has a readable \"messages\" list, so there is nothing to learn from.",
                "Each line must look like {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}, {\"role\": \"assistant\", \"content\": \"...\"}]}."));
        return new InstructionFile(conversations, problems);
    }

    /// <summary>A <c>[{role, content}]</c> list as messages (texts cleaned); null with the reason when it cannot be read or has no answer.</summary>
    public static List<ChatMessage>? ParseMessages(string? raw, out string why)
    {
        why = "";
        if (string.IsNullOrWhiteSpace(raw)) { why = "the \"messages\" field is empty."; return null; }
        try
        {
            using var doc = JsonDocument.Parse(raw);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) { why = "\"messages\" is not a list."; return null; }
            var list = new List<ChatMessage>();
            foreach (var m in doc.RootElement.EnumerateArray())
            {
                if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                { why = "a message has no \"role\"."; return null; }
                var name = role.GetString()!.Trim().ToLowerInvariant();
                if (name is not ("system" or "user" or "assistant"))
                { why = $"a message has the role '{SafeFileName.ForDisplay(name)}'; only system, user and assistant are understood."; return null; }
                var content = m.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                list.Add(new ChatMessage(name, Clean(content)));
            }
            if (!list.Any(x => x.Role == "assistant")) { why = "the conversation has no assistant message to learn from."; return null; }
            return list;
        }
        catch (JsonException) { why = "\"messages\" is not valid JSON."; return null; }
    }

    private static string Clean(string? text) => DocumentExtractor.Clean(text ?? "").Trim();

    private static int ColumnIndex(IReadOnlyList<string> columns, string name)
    {
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name, StringComparison.Ordinal)) return i;
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name.Trim(), StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }

    private static InstructionFile Failed(string display, string message, string fix) =>
        new([], [new DataProblem(display, null, ProblemSeverity.Error, message, fix)]);
}
