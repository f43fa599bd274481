"""Press material in the formats press offices exchange: PDF for reading, DOCX for editing."""
