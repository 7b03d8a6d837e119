using System.Globalization;
using System.Text.Json;
using CsvHelper;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Packaging;
using DocumentFormat.OpenXml.Spreadsheet;

namespace SlmStudio.Core.Data;

/// <summary>CSV (CsvHelper), JSON Lines and Excel workbooks (Open XML SDK) read into one shape: named columns and numbered rows.</summary>
internal static class TabularReader
{
    internal sealed record Row(int Number, string?[] Cells);
    internal sealed record Table(IReadOnlyList<string> Columns, IReadOnlyList<Row> Rows, string RowWord);

    private const int MaxRowProblems = 20;

    public static Table Read(string text, DocumentKind kind, string display, List<DataProblem> problems, CancellationToken ct) =>
        kind == DocumentKind.Jsonl ? ReadJsonl(text, display, problems, ct) : ReadCsv(text, display, problems, ct);

    private static Table ReadCsv(string text, string display, List<DataProblem> problems, CancellationToken ct)
    {
        var badQuotes = new List<long>();
        // The separator (, ; tab |) is detected from the first lines; ragged rows are returned so that we can name them.
        var options = CsvReaderOptions.Default with
        {
            FieldCountMismatch = CsvFieldCountHandling.Allow,
            MalformedData = CsvMalformedDataHandling.Recover,
            OnMalformedRecord = m => { if (m.Reason != CsvMalformedReason.FieldCountMismatch) lock (badQuotes) badQuotes.Add(m.RecordNumber); },
        };
        using var reader = CsvReader.FromText(text, options);
        var rows = new List<Row>();
        string[]? header = null;
        int skipped = 0;
        while (reader.Read())
        {
            ct.ThrowIfCancellationRequested();
            header ??= UniqueNames([.. reader.Headers]);
            var record = new string[reader.FieldCount];
            for (int i = 0; i < record.Length; i++) record[i] = reader.GetString(i) ?? "";
            if (record.All(string.IsNullOrWhiteSpace)) continue;
            // Spreadsheet numbering: the header is row 1.
            var rowNumber = checked((int)reader.RowNumber + 1);
            if (record.Length != header.Length)
            {
                skipped++;
                if (skipped <= MaxRowProblems)
                    problems.Add(new DataProblem(display, rowNumber, ProblemSeverity.Warning,
                        $"Row {rowNumber} has {record.Length} column{(record.Length == 1 ? "" : "s")} but the header has {header.Length}. This row was left out.",
                        "Check that row in a spreadsheet program (a missing or extra separator, or a quote that is not closed), or remove it."));
                continue;
            }
            rows.Add(new Row(rowNumber, record));
        }
        if (header is null && reader.Headers.Count > 0) header = UniqueNames([.. reader.Headers]);
        if (skipped > MaxRowProblems)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Warning,
                $"{skipped - MaxRowProblems} more rows had the wrong number of columns and were left out ({skipped} in all).",
                "Open the file in a spreadsheet program, check how it splits the columns, and save it again as CSV."));
        foreach (var row in badQuotes.Order().Take(MaxRowProblems).Select(r => (int)r))
            problems.Add(new DataProblem(display, row, ProblemSeverity.Info,
                $"Row {row} has a quote character in an unexpected place; its text was read as it is.",
                "If that row looks wrong in the preview, fix its quotes in a spreadsheet program."));

        if (header is null)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "This CSV file has no rows.", "Check that it is the right file."));
        else if (rows.Count == 0 && skipped == 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "This CSV file has column names but no rows of data.",
                "Check that it is the right file, and that the data was saved into it."));
        else if (rows.Count == 0 && skipped > 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error,
                $"No row of this CSV file matches its header ({header.Length} columns), so nothing could be read.",
                "Open the file in a spreadsheet program, check that the first row holds the column names, and save it again as CSV."));
        return new Table(header ?? [], rows, "Row");
    }

    /// <summary>
    /// The first worksheet of an Excel workbook (.xlsx): the first non-empty row names the columns, as in a CSV file.
    /// Cells are read as Excel shows their stored value (shared and inline strings, numbers as written, booleans as
    /// TRUE/FALSE); formulas give their last calculated value.
    /// </summary>
    public static Table ReadXlsx(string path, string display, List<DataProblem> problems, CancellationToken ct)
    {
        SpreadsheetDocument document;
        try { document = SpreadsheetDocument.Open(path, isEditable: false); }
        catch (Exception e) when (e is OpenXmlPackageException or InvalidDataException or IOException or FileFormatException)
        {
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "This file could not be opened as an Excel workbook (.xlsx); it may be damaged or saved in another format.",
                "Open it in Excel or LibreOffice and save it again as an Excel workbook (.xlsx), or save the sheet as CSV."));
            return new Table([], [], "Row");
        }
        using (document)
        {
            var workbook = document.WorkbookPart;
            var firstSheet = workbook?.Workbook.Sheets?.Elements<Sheet>().FirstOrDefault();
            if (workbook is null || firstSheet?.Id?.Value is not { } sheetId || workbook.GetPartById(sheetId) is not WorksheetPart sheetPart)
            {
                problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "This Excel workbook has no worksheet.", "Check that it is the right file."));
                return new Table([], [], "Row");
            }
            var shared = workbook.SharedStringTablePart?.SharedStringTable?.Elements<SharedStringItem>().Select(i => i.InnerText).ToArray() ?? [];
            string[]? header = null;
            var rows = new List<Row>();
            foreach (var row in sheetPart.Worksheet.Descendants<DocumentFormat.OpenXml.Spreadsheet.Row>())
            {
                ct.ThrowIfCancellationRequested();
                var cells = new SortedDictionary<int, string>();
                int next = 0;
                foreach (var cell in row.Elements<Cell>())
                {
                    var column = cell.CellReference?.Value is { } reference ? ColumnIndex(reference) : next;
                    next = column + 1;
                    cells[column] = CellText(cell, shared);
                }
                if (cells.Values.All(string.IsNullOrWhiteSpace)) continue;
                var number = row.RowIndex?.Value is { } index ? checked((int)index) : rows.Count + 2;
                if (header is null)
                {
                    var width = cells.Keys.Max() + 1;
                    header = UniqueNames([.. Enumerable.Range(0, width).Select(i => cells.GetValueOrDefault(i, ""))]);
                    continue;
                }
                rows.Add(new Row(number, [.. Enumerable.Range(0, header.Length).Select(i => (string?)cells.GetValueOrDefault(i, ""))]));
            }
            if (header is null)
                problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "The first sheet of this Excel workbook is empty.", "Check that it is the right file, and that the data is on its first sheet."));
            else if (rows.Count == 0)
                problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "The first sheet of this Excel workbook has column names but no rows of data.",
                    "Check that it is the right file, and that the data is on its first sheet."));
            return new Table(header ?? [], rows, "Row");
        }

        static int ColumnIndex(string reference)
        {
            int index = 0;
            foreach (var c in reference)
            {
                if (!char.IsAsciiLetter(c)) break;
                index = index * 26 + (char.ToUpperInvariant(c) - 'A' + 1);
            }
            return index - 1;
        }

        static string CellText(Cell cell, string[] shared)
        {
            var value = cell.CellValue?.Text ?? "";
            if (cell.DataType?.Value is { } type)
            {
                if (type == CellValues.SharedString) return int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < shared.Length ? shared[i] : "";
                if (type == CellValues.InlineString) return cell.InlineString?.InnerText ?? value;
                if (type == CellValues.Boolean) return value == "1" ? "TRUE" : "FALSE";
            }
            return value;
        }
    }

    private static Table ReadJsonl(string text, string display, List<DataProblem> problems, CancellationToken ct)
    {
        var columns = new List<string>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var objects = new List<(int Line, Dictionary<string, string?> Values)>();
        int lineNo = 0, bad = 0, nonEmpty = 0;
        if (text.TrimStart().StartsWith('['))
        {
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error,
                "This file looks like one JSON document (a list in [ ]), not JSON Lines (one object per line), so it could not be read.",
                "Save it as JSON Lines: one object per line, such as {\"text\": \"...\"}, with no surrounding [ ]."));
            return new Table([], [], "Line");
        }
        var lines = text.Split('\n');
        foreach (var raw in lines)
        {
            lineNo++;
            ct.ThrowIfCancellationRequested();
            var line = raw.Trim();
            if (line.Length == 0) continue;
            nonEmpty++;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    Bad($"Line {lineNo} is valid JSON but not an object with named fields (it is {Kind(doc.RootElement.ValueKind)}). This line was left out.",
                        "Each line must be one object such as {\"text\": \"...\"}.");
                    continue;
                }
                var values = new Dictionary<string, string?>(StringComparer.Ordinal);
                foreach (var prop in doc.RootElement.EnumerateObject())
                {
                    if (!index.ContainsKey(prop.Name)) { index[prop.Name] = columns.Count; columns.Add(prop.Name); }
                    values[prop.Name] = prop.Value.ValueKind switch
                    {
                        JsonValueKind.String => prop.Value.GetString(),
                        JsonValueKind.Null => null,
                        _ => prop.Value.GetRawText(),
                    };
                }
                objects.Add((lineNo, values));
            }
            catch (JsonException e)
            {
                Bad($"Line {lineNo} is not valid JSON ({Short(e.Message)}). This line was left out.",
                    "Open the file in a text editor and fix that line: each line must be one complete JSON object, such as {\"text\": \"...\"}.");
            }
        }
        if (bad > MaxRowProblems)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Warning, $"{bad - MaxRowProblems} more lines were not valid JSON objects and were left out ({bad} in all).",
                "Check that the file is JSON Lines: one JSON object per line."));
        if (nonEmpty == 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "This JSONL file has no lines with data.", "Check that it is the right file."));
        else if (objects.Count == 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error,
                "No line of this file is a valid JSON object, so nothing could be read.",
                "Save it as JSON Lines: one object per line, such as {\"text\": \"...\"}, with no surrounding [ ]."));
        var rows = objects.Select(o => new Row(o.Line, [.. columns.Select(c => o.Values.GetValueOrDefault(c))])).ToList();
        return new Table(columns, rows, "Line");

        void Bad(string message, string fix)
        {
            bad++;
            if (bad <= MaxRowProblems) problems.Add(new DataProblem(display, lineNo, ProblemSeverity.Warning, message, fix));
        }

        static string Kind(JsonValueKind k) => k switch
        {
            JsonValueKind.Array => "a list",
            JsonValueKind.String => "a piece of text",
            JsonValueKind.Number => "a number",
            _ => "a single value",
        };

        static string Short(string message)
        {
            var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            if (cut < 0) cut = message.IndexOf(" Path:", StringComparison.Ordinal);
            return (cut > 0 ? message[..cut] : message).TrimEnd('.');
        }
    }

    private static string[] UniqueNames(string[] header)
    {
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var names = new string[header.Length];
        for (int i = 0; i < header.Length; i++)
        {
            var name = header[i].Trim();
            if (name.Length == 0) name = $"Column {i + 1}";
            if (seen.TryGetValue(name, out var n)) { seen[name] = n + 1; name = $"{name} ({n + 1})"; }
            else seen[name] = 1;
            names[i] = name;
        }
        return names;
    }

    private static readonly string[] TextNames = ["text", "content", "body", "message", "description", "comment", "sentence", "document", "paragraph"];
    private static readonly string[] LabelNames = ["label", "category", "class", "intent", "topic", "tag", "sentiment"];
    private static readonly string[] PromptNames = ["prompt", "question", "instruction", "input", "query"];
    private static readonly string[] ResponseNames = ["response", "answer", "output", "completion", "reply"];
    private static readonly string[] SystemNames = ["system", "context", "system_prompt"];

    /// <summary>
    /// A mapping guess: prompt/response or text/label pairs by their usual names, otherwise the column with the most
    /// text per row among those that are not mostly numbers or dates. Null when no column holds text.
    /// </summary>
    public static ColumnMapping? Suggest(Table table)
    {
        var textual = TextualColumns(table);
        if (textual.Count == 0) return null;
        string? Named(string[] names) => names.Select(n => textual.FirstOrDefault(c => string.Equals(c.Name, n, StringComparison.OrdinalIgnoreCase)).Name)
            .FirstOrDefault(n => n is not null);
        var prompt = Named(PromptNames);
        var response = Named(ResponseNames);
        if (prompt is not null && response is not null) return ColumnMapping.QuestionAnswer(prompt, response, Named(SystemNames));
        // Multi-turn chats in the common form: {"messages": [{"role": ..., "content": ...}, ...]}.
        if (table.Columns.FirstOrDefault(c => string.Equals(c, Instruction.InstructionColumns.MessagesField, StringComparison.OrdinalIgnoreCase)) is { } messages)
            return ColumnMapping.Conversations(messages);
        var text = Named(TextNames) ?? textual.OrderByDescending(c => c.AverageLength).First().Name;
        var label = LabelNames.Select(n => table.Columns.FirstOrDefault(c => string.Equals(c, n, StringComparison.OrdinalIgnoreCase))).FirstOrDefault(c => c is not null && c != text);
        return label is null ? ColumnMapping.Text(text) : ColumnMapping.Labelled(text, label);
    }

    private static List<(string Name, double AverageLength)> TextualColumns(Table table)
    {
        var result = new List<(string, double)>();
        var sample = table.Rows.Take(500).ToList();
        for (int i = 0; i < table.Columns.Count; i++)
        {
            var values = sample.Select(r => r.Cells[i]).Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim()).ToList();
            if (values.Count == 0) continue;
            var wordy = values.Count(v => v.Any(char.IsLetter) && !IsNumberOrDate(v));
            if (wordy < values.Count / 2.0) continue;
            result.Add((table.Columns[i], values.Average(v => v.Length)));
        }
        return result;
    }

    private static bool IsNumberOrDate(string v) =>
        double.TryParse(v, NumberStyles.Any, CultureInfo.InvariantCulture, out _)
        || DateTime.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
        || v is "true" or "false" or "TRUE" or "FALSE";

    public static List<TextRecord> ToRecords(Table table, ColumnMapping? mapping, string display, List<DataProblem> problems, CancellationToken ct)
    {
        var records = new List<TextRecord>();
        mapping ??= Suggest(table);
        if (mapping is null)
        {
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error,
                $"No column of this file holds text: every column is empty or holds only numbers, dates or yes/no values. Its columns are: {List(table.Columns)}.",
                "Make sure one column holds the text the model should learn from, with its name in the first row, or pick the text column by hand."));
            return records;
        }
        int Column(string? name, string role)
        {
            if (name is null) return -1;
            var i = IndexOf(table.Columns, name);
            if (i < 0)
                problems.Add(new DataProblem(display, null, ProblemSeverity.Error,
                    $"The {role} column '{name}' is not in this file. Its columns are: {List(table.Columns)}.",
                    "Pick one of those columns in the column mapping, or rename the column in the file's first row."));
            return i;
        }
        var text = Column(mapping.TextColumn, "text");
        var label = Column(mapping.LabelColumn, "label");
        var prompt = Column(mapping.PromptColumn, "prompt");
        var response = Column(mapping.ResponseColumn, "response");
        var system = Column(mapping.SystemColumn, "system or context");
        var messages = Column(mapping.MessagesColumn, "messages");
        if (problems.Any(p => p.Severity == ProblemSeverity.Error)) return records;
        if (messages >= 0 && text < 0 && prompt < 0) return ConversationRecords(table, messages, display, problems, ct);
        if (text < 0 && (prompt < 0 || response < 0))
        {
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "The column mapping names neither a text column nor both a prompt and a response column.",
                "Pick the column that holds the text (or the question and answer columns)."));
            return records;
        }

        int empty = 0, noLabel = 0;
        int firstEmpty = 0, firstNoLabel = 0;
        foreach (var row in table.Rows)
        {
            ct.ThrowIfCancellationRequested();
            string? Cell(int i) => i < 0 ? null : DocumentExtractor.Clean(row.Cells[i] ?? "").Trim();
            var p = Cell(prompt);
            var r = Cell(response);
            var body = text >= 0 ? Cell(text) : null;
            if (text < 0) body = string.IsNullOrEmpty(p) || string.IsNullOrEmpty(r) ? "" : $"{p}\n{r}";
            if (string.IsNullOrEmpty(body) || (prompt >= 0 && string.IsNullOrEmpty(p)) || (response >= 0 && string.IsNullOrEmpty(r)))
            {
                if (empty++ == 0) firstEmpty = row.Number;
                continue;
            }
            var l = Cell(label);
            if (label >= 0 && string.IsNullOrEmpty(l))
            {
                if (noLabel++ == 0) firstNoLabel = row.Number;
                continue;
            }
            var context = Cell(system);
            records.Add(new TextRecord(body, row.Number, label >= 0 ? l : null, prompt >= 0 ? p : null, response >= 0 ? r : null)
            {
                Messages = string.IsNullOrEmpty(context) || prompt < 0 || response < 0 ? null
                    : [new("system", context), new("user", p!), new("assistant", r!)],
            });
        }
        var word = table.RowWord.ToLowerInvariant();
        if (empty > 0)
            problems.Add(new DataProblem(display, firstEmpty, ProblemSeverity.Info,
                $"{empty} {word}{(empty == 1 ? "" : "s")} had no text in the mapped column{(text < 0 ? "s" : "")} and {(empty == 1 ? "was" : "were")} left out (the first is {word} {firstEmpty}).",
                "Nothing to do if those rows are meant to be empty; otherwise fill them in."));
        if (noLabel > 0)
            problems.Add(new DataProblem(display, firstNoLabel, ProblemSeverity.Warning,
                $"{noLabel} {word}{(noLabel == 1 ? "" : "s")} had no label and {(noLabel == 1 ? "was" : "were")} left out (the first is {word} {firstNoLabel}).",
                "Give every row a label, or remove the rows you cannot label."));
        if (records.Count == 0 && table.Rows.Count > 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "Every row is empty in the mapped column, so there is no text to use.",
                "Check the column mapping: pick the column that holds the text."));
        return records;
    }

    /// <summary>
    /// Rows of whole conversations (a JSONL "messages" list each): every message is kept, the first question and the last
    /// answer also as the record's prompt and response; unreadable lines are left out and counted.
    /// </summary>
    private static List<TextRecord> ConversationRecords(Table table, int column, string display, List<DataProblem> problems, CancellationToken ct)
    {
        var records = new List<TextRecord>();
        int bad = 0, firstBad = 0;
        string firstWhy = "";
        foreach (var row in table.Rows)
        {
            ct.ThrowIfCancellationRequested();
            var messages = Instruction.InstructionData.ParseMessages(row.Cells[column], out var why);
            var question = messages?.FirstOrDefault(m => m.Role == "user" && m.Content.Length > 0)?.Content;
            var answer = messages?.LastOrDefault(m => m.Role == "assistant" && m.Content.Length > 0)?.Content;
            if (messages is null || question is null || answer is null)
            {
                if (bad++ == 0) (firstBad, firstWhy) = (row.Number, messages is null ? why : "the conversation has no question with an answer.");
                continue;
            }
            records.Add(new TextRecord(string.Join("\n", messages.Select(m => m.Content).Where(c => c.Length > 0)), row.Number, null, question, answer) { Messages = messages });
        }
        var word = table.RowWord.ToLowerInvariant();
        if (bad > 0)
            problems.Add(new DataProblem(display, firstBad, ProblemSeverity.Warning,
                $"{bad} {word}{(bad == 1 ? "" : "s")} had no readable conversation and {(bad == 1 ? "was" : "were")} left out (the first is {word} {firstBad}: {firstWhy})",
                "Each line must look like {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}, {\"role\": \"assistant\", \"content\": \"...\"}]}."));
        if (records.Count == 0 && table.Rows.Count > 0)
            problems.Add(new DataProblem(display, null, ProblemSeverity.Error, "No line of this file has a readable conversation, so there is nothing to learn from.",
                "Each line needs a \"messages\" list with at least one user question and one assistant answer."));
        return records;
    }

    private static int IndexOf(IReadOnlyList<string> columns, string name)
    {
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name, StringComparison.Ordinal)) return i;
        for (int i = 0; i < columns.Count; i++) if (string.Equals(columns[i], name.Trim(), StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }

    private static string List(IReadOnlyList<string> columns) =>
        columns.Count == 0 ? "(none)" : string.Join(", ", columns.Take(20).Select(c => $"'{SafeFileName.ForDisplay(c)}'")) + (columns.Count > 20 ? ", …" : "");
}
